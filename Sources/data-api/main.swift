print("data-api: not implemented yet")
