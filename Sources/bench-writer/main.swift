print("bench-writer: not implemented yet")
