"""The running bot's faces: the loop, the HTTP server, status, metrics, progress lines, control and log redaction."""
