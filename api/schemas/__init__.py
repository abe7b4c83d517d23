"""HTTP schemas: what the API accepts and answers, apart from the tables behind it."""
