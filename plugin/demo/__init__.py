"""The demo: a simulated term of the demo course, and the Live Events it is built from."""
