{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["udp_batch.c", "batch.c", "poll.c", "reader.c", "socket.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
      "libraries": ["-pthread"],
      "conditions": [["OS!='linux'", {"type": "none", "sources": []}]]
    }
  ]
}
