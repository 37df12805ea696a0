"""Everything that talks to the outside: database, buses, HTTP clients."""
