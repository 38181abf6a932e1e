"""Looks names up with dnspython pointed at dnsfault ($DNSFAULT_ADDR, as
`dnsfault run` sets it; 127.0.0.1:1053 otherwise) and prints what each
gave: the addresses, or dnspython's exception.

    python3 examples/clients/python/resolve.py nxdomain.demo.test
"""
import os
import sys

import dns.exception
import dns.resolver


def main():
    if len(sys.argv) < 2:
        print("usage: resolve.py NAME... (asks $DNSFAULT_ADDR, or 127.0.0.1:1053)\n"
              "  e.g. python3 examples/clients/python/resolve.py nxdomain.demo.test servfail.demo.test",
              file=sys.stderr)
        sys.exit(2)
    host, _, port = os.environ.get("DNSFAULT_ADDR", "127.0.0.1:1053").rpartition(":")
    resolver = dns.resolver.Resolver(configure=False)  # not /etc/resolv.conf
    resolver.nameservers = [host]
    resolver.port = int(port)
    resolver.lifetime = 2.0
    for name in sys.argv[1:]:
        try:
            answer = resolver.resolve(name, "A")
            print(f"{name}: {','.join(r.address for r in answer)}")
        except dns.resolver.NXDOMAIN:
            print(f"{name}: NXDOMAIN")
        except dns.resolver.NoAnswer:
            print(f"{name}: NoAnswer (NODATA)")
        except dns.resolver.NoNameservers:
            print(f"{name}: NoNameservers (SERVFAIL)")
        except dns.exception.Timeout:
            print(f"{name}: Timeout")


if __name__ == "__main__":
    main()
