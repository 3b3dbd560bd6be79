#!/bin/sh
# tlsfront package: after the files are removed.
#   .deb postrm: "remove", "purge" (also "upgrade", "abort-*", "disappear")
#   .rpm %postun: 0 on erase, 1 on upgrade
# Tells a running systemd the units are gone. "dpkg --purge" also deletes
# the state tlsfront wrote (generated self-signed certificates, the OCSP
# cache, ACME account and certificates): /var/lib/tlsfront, which under the
# unit's DynamicUser= is a symlink to /var/lib/private/tlsfront. dpkg itself
# deletes /etc/tlsfront/tlsfront.toml on purge (it is a conffile); other
# files an operator put in /etc/tlsfront (keys, certificates) are left.
# rpm has no purge: an erase keeps the state, and an edited config as
# tlsfront.toml.rpmsave.
set -e

case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	;;
esac

if [ "$1" = purge ]; then
	rm -rf /var/lib/private/tlsfront /var/lib/tlsfront
fi
exit 0
