"""The composition root: argv -> settings -> `anyio.run`."""
