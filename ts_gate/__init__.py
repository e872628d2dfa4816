"""The one door to TorchServe from the network: a bearer token, and only the calls the gateway makes.

TorchServe's own token authorization cannot serve a deployment: it invents random keys at each
start, writes them to a file beside the server and lets them expire after an hour, so they
cannot come from a Secret, and two replicas behind one Service would hold different keys. So
TorchServe listens on its container's loopback only, and this proxy, in the same container,
is what the network reaches:

- ``POST /predictions/{model}`` (inference) and ``GET /models``, ``GET /models/{model}``
  (read-only management, for the gateway's readiness) need ``Authorization: Bearer <token>``;
  the token comes from a Secret (``TS_GATE_TOKEN``), compared in constant time;
- ``GET /ping`` answers without it (probes carry no secrets) and says only up or down;
- anything else, management writes included (register, scale, unregister), is a 404.
"""
