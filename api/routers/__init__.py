"""HTTP routers, one per audience or resource."""
