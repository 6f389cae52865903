"""`drift-stream` commands, one module each (`req`, `check`), and what they share
(`common`); `streamer.cli` builds the parser and runs the long-lived commands."""
