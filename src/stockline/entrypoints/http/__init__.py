"""The REST API: FastAPI app factory, routers, schemas, error mapping."""
