"""jitpi's airspeed-velocity suite: see benchmarks/README.md. Importing it imports no framework."""
