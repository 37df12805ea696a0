"""The live event streams (SSE and WebSocket): what a caller may hear, how each transport
frames the feed, and what an open stream checks while it lasts."""
