"""gRPC (package ``stockline.v1``, proto/stockline/v1) beside HTTP, in the same processes.

The services call what the REST routes call (the same reads, use cases and checks) and
answer protocol buffers; ``status`` renders every refusal as a gRPC status. The code
generated from the protos (``make proto``) is the subpackage ``v1``.
"""
