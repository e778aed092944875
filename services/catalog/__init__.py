"""The topic catalog for analysts: an AsyncAPI 3 document of every topic and its HTML page."""
