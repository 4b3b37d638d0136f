//! rrun networking: network store, IPAM, bridges and veths, firewall, ports, DNS.
