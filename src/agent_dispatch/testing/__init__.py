"""Things for tests, the demo and users' rehearsals: scripted agents, sample repositories."""
