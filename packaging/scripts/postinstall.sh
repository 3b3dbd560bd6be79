#!/bin/sh
# tlsfront package: after the files are installed or upgraded.
#   .deb postinst: "configure" [old-version] ("abort-*" when an upgrade failed)
#   .rpm %post:    1 on install, 2 (or more) on upgrade
# Tells a running systemd about the (new) units. Never starts tlsfront on
# install: the operator writes /etc/tlsfront/tlsfront.toml, checks it with
# `tlsfront -t`, then runs `systemctl enable --now tlsfront`. On upgrade a
# running tlsfront is restarted onto the new binary (try-restart: a stopped
# or disabled one stays so); it drains in-flight requests first.
set -e

upgrade=
case "$1" in
configure)
	[ -z "$2" ] || upgrade=1
	;;
[0-9]*)
	[ "$1" -lt 2 ] || upgrade=1
	;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if [ -n "$upgrade" ]; then
		systemctl try-restart tlsfront.service >/dev/null 2>&1 || true
	fi
fi
exit 0
