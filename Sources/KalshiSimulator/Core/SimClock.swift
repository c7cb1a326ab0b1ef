/// The simulated clock: simulated time advances `speed` times as fast as wall time from an
/// anchor. Changing speed re-anchors, so simulated time never jumps or runs backwards.
public struct SimClock: Sendable, Equatable {
    public private(set) var anchorWall: Double
    public private(set) var anchorSim: Double
    public private(set) var speed: Double

    public init(start: Double, speed: Double = 1.0, wallNow: Double) {
        anchorWall = wallNow
        anchorSim = start
        self.speed = speed
    }

    public func now(wall: Double) -> Double { anchorSim + (wall - anchorWall) * speed }

    public func nowSeconds(wall: Double) -> Int64 { Int64(now(wall: wall).rounded(.down)) }

    public mutating func setSpeed(_ s: Double, wall: Double) {
        anchorSim = now(wall: wall)
        anchorWall = wall
        speed = s
    }

    /// Moves simulated time forward (only forward: negative values are ignored).
    public mutating func advance(by seconds: Double, wall: Double) {
        anchorSim = now(wall: wall) + max(0, seconds)
        anchorWall = wall
    }
}
