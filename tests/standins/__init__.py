"""Local HTTP stand-ins for the services the kit talks to (127.0.0.1, real sockets, real clients)."""
