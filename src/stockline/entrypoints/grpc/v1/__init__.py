"""Generated gRPC code of proto/stockline/v1."""
