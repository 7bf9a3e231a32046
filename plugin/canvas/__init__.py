"""Speaking Canvas: parsing its events, calling its REST API, proving a request came from it."""
