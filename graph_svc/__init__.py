"""graph_svc: users and the directed follow graph, stored in CQL."""
