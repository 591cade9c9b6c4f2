"""vidrag's interfaces, on top of the core (`rag`) and the pipeline (`ingest`): the `vidrag`
command, the web app, the MCP server and the LlamaIndex adapter. Nothing below imports this."""
