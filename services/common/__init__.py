"""The ground every service stands on: typed settings, gRPC server and channel plumbing, the SQL engine,
id and text rules at the boundary, paging, the score rule, the data dir, proto conversions and the clients
of identity and analytics. It imports nothing of the services or of the `influencers` CLI above them."""
