"""The web pages: the dispatcher console, the technician's phone view and the customer's
tracking page, served with everything they need (no CDN, no tile server)."""
