"""The server that owns the library: the web app, an HTTP API at /api/v1 and MCP at /mcp, in one
process (`vidrag serve`). Every other vidrag command goes through it while it runs."""
