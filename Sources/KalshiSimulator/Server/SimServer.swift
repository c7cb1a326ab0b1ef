import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTPTypes

/// Settings for one simulator process.
public struct SimConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8089
    public var seed: UInt64 = 42
    public var scale = 0.05
    /// Simulated start time (unix seconds); nil = now.
    public var startTime: Int64?
    public var clockSpeed = 1.0
    public var settings = SimSettings()
    /// Signature verification (`--public-key`); empty = signatures are not verified.
    public var authenticator = RequestAuthenticator()

    public init() {}
}

/// Request context that keeps the channel, so a fault can reset the connection.
public struct SimRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

struct InjectedFault: Error {}

/// The HTTP shell: routing, metering and fault injection only. Everything it answers
/// comes from `ExchangeAPI` (pure) and `SimState` (clock, settings, counters).
struct SimResponder: HTTPResponder {
    typealias Context = SimRequestContext
    let api: ExchangeAPI
    let state: SimState
    let authenticator: RequestAuthenticator
    let hub: LifecycleHub

    static let keyHeader = HTTPField.Name("KALSHI-ACCESS-KEY")!
    static let timestampHeader = HTTPField.Name("KALSHI-ACCESS-TIMESTAMP")!
    static let signatureHeader = HTTPField.Name("KALSHI-ACCESS-SIGNATURE")!

    func respond(to request: Request, context: Context) async throws -> Response {
        let route = ExchangeAPI.routePath(request.uri.path)
        let query = request.uri.query ?? ""
        let method = request.method.rawValue
        if route.hasPrefix("/_sim/") && !route.hasPrefix("/_sim/truth/") {
            let body = try await request.body.collect(upTo: 1 << 20)
            let sim = control(method: method, path: route, query: query, body: Array(buffer: body))
            state.count(endpoint: sim.endpoint, status: sim.status)
            return response(sim)
        }
        if route.hasPrefix("/_sim/truth/") {
            let sim = api.handle(method: method, path: route, query: query, at: state.now(),
                                 mode: state.currentSettings().updatedTimeMode)
            state.count(endpoint: sim.endpoint, status: sim.status)
            return response(sim)
        }
        let auth = authenticator.check(key: request.headers[Self.keyHeader], timestamp: request.headers[Self.timestampHeader],
                                       signature: request.headers[Self.signatureHeader], method: method,
                                       path: request.uri.path, nowMs: Int64((SimState.wallNow() * 1000).rounded(.down)))
        let signed: Bool
        switch auth {
        case .unsigned: signed = false
        case .signed: signed = true
        case .rejected(let why):
            // Checked before metering: a rejected request draws no tokens and no fault.
            state.count(endpoint: "401", status: 401)
            return response(SimResponse(status: 401, body: APIError(status: 401, code: "unauthorized", message: why).body, endpoint: "401"))
        }
        guard let (_, faults) = state.admit(signed: signed) else {
            state.count(endpoint: "429", status: 429)
            // Exactly the exchange's body, and no Retry-After / X-RateLimit-* headers.
            return response(SimResponse(status: 429, body: Array(#"{"error": "too many requests"}"#.utf8), endpoint: "429"))
        }
        if faults.latencyMs > 0 { try await Task.sleep(nanoseconds: UInt64(faults.latencyMs * 1_000_000)) }
        if faults.connectionReset {
            state.count(endpoint: "fault:reset", status: 0)
            // The connection is dropped before any byte of a response is written, with
            // SO_LINGER {on, 0} so that close() sends a TCP RST (the peer sees ECONNRESET).
            let channel = context.channel
            if let provider = channel as? any SocketOptionProvider {
                try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            }
            try? await channel.close().get()
            throw InjectedFault()
        }
        if faults.serverError {
            let sim = SimResponse(status: 503, body: APIError(status: 503, code: "service_unavailable", message: "injected fault").body,
                                  endpoint: "fault:5xx")
            state.count(endpoint: sim.endpoint, status: sim.status)
            return response(sim)
        }
        var sim = api.handle(method: method, path: route, query: query, at: state.now(), faults: faults,
                             mode: state.currentSettings().updatedTimeMode)
        state.count(endpoint: sim.endpoint, status: sim.status)
        if faults.malformedJSON { sim.body = FaultPlan.malform(sim.body) }
        if faults.truncatedBody {
            // Promise the whole length, send half, then drop the connection.
            let full = sim.body
            let channel = context.channel
            return Response(status: HTTPResponse.Status(code: sim.status), headers: headers(sim),
                            body: ResponseBody(contentLength: full.count) { writer in
                                try await writer.write(ByteBuffer(bytes: full.prefix(full.count / 2)))
                                try? await channel.close().get()
                                throw InjectedFault()
                            })
        }
        return response(sim)
    }

    func response(_ sim: SimResponse) -> Response {
        Response(status: HTTPResponse.Status(code: sim.status), headers: headers(sim),
                 body: ResponseBody(byteBuffer: sim.payload))
    }

    /// Content type (`Date` is stamped by ``SimulatedDateHandler``).
    func headers(_ sim: SimResponse) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = sim.contentType
        return headers
    }

    /// `/_sim/clock` and `/_sim/stats`.
    func control(method: String, path: String, query: String, body: [UInt8]) -> SimResponse {
        switch (method, path) {
        case ("GET", "/_sim/clock"):
            return SimResponse(status: 200, body: clockJSON(), endpoint: "/_sim/clock")
        case ("POST", "/_sim/clock"):
            let p = QueryParams(query)
            var speed = p.nonEmpty("speed").flatMap(Double.init)
            var advance = (p.nonEmpty("advance_seconds") ?? p.nonEmpty("advance")).flatMap(Double.init)
            if !body.isEmpty {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                    return SimResponse(status: 400, body: APIError.badRequest("body must be a JSON object").body, endpoint: "/_sim/clock")
                }
                if let s = obj["speed"] as? Double { speed = s }
                if let a = (obj["advance_seconds"] ?? obj["advance"]) as? Double { advance = a }
            }
            if let s = speed, !(s >= 0 && s.isFinite) {
                return SimResponse(status: 400, body: APIError.badRequest("speed must be a non-negative number").body, endpoint: "/_sim/clock")
            }
            state.updateClock(speed: speed, advance: advance)
            return SimResponse(status: 200, body: clockJSON(), endpoint: "/_sim/clock")
        case ("GET", "/_sim/settings"):
            return SimResponse(status: 200, body: state.currentSettings().json, endpoint: "/_sim/settings")
        case ("POST", "/_sim/settings"):
            guard let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                return SimResponse(status: 400, body: APIError.badRequest("body must be a JSON object").body, endpoint: "/_sim/settings")
            }
            do throws(APIError) {
                return SimResponse(status: 200, body: try state.updateSettings(obj).json, endpoint: "/_sim/settings")
            } catch {
                return SimResponse(status: error.status, body: error.body, endpoint: "/_sim/settings")
            }
        case ("GET", "/_sim/stats"):
            return SimResponse(status: 200, body: state.statsJSON(), endpoint: "/_sim/stats")
        case ("GET", "/_sim/ws"):
            return SimResponse(status: 200, body: hub.statsJSON(), endpoint: "/_sim/ws")
        case ("POST", "/_sim/ws/drop"):
            let n = hub.dropAll()
            return SimResponse(status: 200, body: Array("{\"dropped\":\(n)}".utf8), endpoint: "/_sim/ws/drop")
        default:
            return SimResponse(status: 404, body: APIError.notFound("page not found").body, endpoint: path)
        }
    }

    func clockJSON() -> [UInt8] {
        let (now, speed) = state.clockSnapshot()
        var w = JSONWriter()
        w.raw("{\"now\":"); w.time(Int64(now.rounded(.down)))
        w.raw(",\"now_unix\":"); w.double((now * 1000).rounded() / 1000)
        w.raw(",\"speed\":"); w.double(speed)
        w.raw("}")
        return w.bytes
    }
}

/// A running simulator: the universe, its state, and the HTTP server task.
public final class SimServer: Sendable {
    public let universe: Universe
    public let api: ExchangeAPI
    public let hub: LifecycleHub
    public let state: SimState
    public let configuration: SimConfiguration
    public let generateSeconds: Double

    public init(configuration: SimConfiguration) {
        self.configuration = configuration
        let wall = SimState.wallNow()
        let start = configuration.startTime ?? Int64(wall)
        let t0 = Date()
        universe = Universe(seed: configuration.seed, scale: configuration.scale, referenceTs: start)
        generateSeconds = Date().timeIntervalSince(t0)
        state = SimState(clock: SimClock(start: Double(start), speed: configuration.clockSpeed, wallNow: SimState.wallNow()),
                         settings: configuration.settings)
        api = ExchangeAPI(universe: universe)
        hub = LifecycleHub(api: api, state: state)
    }

    func makeApplication(logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let responder = SimResponder(api: api, state: state, authenticator: configuration.authenticator, hub: hub)
        let state = self.state
        let ws = LifecycleWebSocket(hub: hub, state: state, authenticator: configuration.authenticator)
        return Application(
            responder: responder,
            server: .http1WebSocketUpgrade(
                configuration: .init(
                    http1: .init(additionalChannelHandlers: [SimulatedDateHandler(state: state)]),
                    // Pings are the simulator's own (body "heartbeat", as documented).
                    ws: .init(maxFrameSize: 1 << 20, autoPing: .disabled)),
                shouldUpgrade: { head, channel, logger in await ws.shouldUpgrade(head, channel: channel, logger: logger) }),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "kalshi-sim"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGTERM/SIGINT. `onRunning` receives the bound port.
    public func runUntilSignalled(logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        try await makeApplication(logger: logger, onRunning: onRunning).runService()
    }

    /// Starts serving in a background task (for tests) and returns the bound port and the
    /// task; cancelling the task stops the server.
    public func start(logger: Logger = Logger(label: "kalshi-sim")) async throws -> (port: Int, task: Task<Void, any Error>) {
        let (stream, cont) = AsyncStream<Int>.makeStream()
        let app = makeApplication(logger: logger) { port in cont.yield(port); cont.finish() }
        let task = Task { try await app.run() }
        var port = 0
        for await p in stream { port = p }
        return (port, task)
    }
}

/// Stamps `Date` with the simulated clock on the way out. Hummingbird sets `Date` to the
/// wall clock after the responder runs, but clients read the exchange's clock from this
/// header, so an accelerated or frozen simulator must send its own time.
final class SimulatedDateHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    private let state: SimState

    init(state: SimState) { self.state = state }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var part = unwrapOutboundIn(data)
        if case .head(var head) = part {
            head.headerFields[.date] = SimTime.httpDate(state.now())
            part = .head(head)
        }
        context.write(wrapOutboundOut(part), promise: promise)
    }
}
