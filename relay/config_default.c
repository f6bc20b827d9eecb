/*
 * The configuration twist-relay runs with when given no file: everything on
 * loopback, so a first run on a real host exposes nothing, and a demo user
 * so that a browser on the same machine can try it at once. Loopback peers
 * and the relay's own addresses are allowed only because the demo peers
 * are local too: they share 127.0.0.1 and ::1 with the listeners, and two
 * browsers on one machine relay to each other's relayed addresses.
 */
#include "relay/config.h"

const char config_default_yaml[] =
        "# twist-relay embedded default: loopback only, demo credentials.\n"
        "# Not for production: see deploy/twist-relay.example.yaml.\n"
        "listen:\n"
        "  - address: 127.0.0.1\n"
        "    port: 3478\n"
        "    transports: [udp, tcp]\n"
        "  - address: \"::1\"\n"
        "    port: 3478\n"
        "    transports: [udp, tcp]\n"
        "# TURN over TLS and over DTLS on their registered port, with a throwaway\n"
        "# self-signed certificate made at start (no tls: section).\n"
        "  - address: 127.0.0.1\n"
        "    port: 5349\n"
        "    transports: [tls, dtls]\n"
        "  - address: \"::1\"\n"
        "    port: 5349\n"
        "    transports: [tls, dtls]\n"
        "# TURN over WebSocket (ws://127.0.0.1:8080/turn) and over TLS\n"
        "# (wss://127.0.0.1:8443/turn).\n"
        "  - address: 127.0.0.1\n"
        "    port: 8080\n"
        "    transports: [ws]\n"
        "  - address: 127.0.0.1\n"
        "    port: 8443\n"
        "    transports: [wss]\n"
        "relay:\n"
        "  addresses: [127.0.0.1, \"::1\"]\n"
        "  port_min: 49152\n"
        "  port_max: 65535\n"
        "workers: 0\n"
        "auth:\n"
        "  realm: twist.local\n"
        "  users:\n"
        "    - { name: demo, password: demo }\n"
        "peers:\n"
        "  allow_loopback: true\n"
        "  # demo peers share 127.0.0.1 and ::1 with the relay; never in production\n"
        "  allow_self: true\n"
        "metrics:\n"
        "  enabled: true\n"
        "  listen: 127.0.0.1:9641\n"
        "log:\n"
        "  level: info\n"
        "# coturn's turnutils_uclient and other RFC 5766-era clients pick\n"
        "# channel numbers up to 0x7FFF; RFC 8656 allows only up to 0x4FFF.\n"
        "compat:\n"
        "  rfc5766_channels: true\n";
