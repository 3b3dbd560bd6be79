#!/bin/sh
# tlsfront package: before the files are removed.
#   .deb prerm: "remove" (also "upgrade", "deconfigure", "failed-upgrade")
#   .rpm %preun: 0 on erase, 1 on upgrade
# On removal (not on upgrade) stops the service and its sockets and
# disables them, so that no enablement symlink points at a deleted unit.
# Reinstalling therefore needs `systemctl enable --now tlsfront` again.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

units="tlsfront.service tlsfront.socket tlsfront-http.socket"
if command -v systemctl >/dev/null 2>&1; then
	if [ -d /run/systemd/system ]; then
		# shellcheck disable=SC2086 # three unit names
		systemctl --no-reload disable --now $units >/dev/null 2>&1 || true
	else
		# No systemd running (a container, a chroot): remove the symlinks.
		# shellcheck disable=SC2086
		systemctl --no-reload disable $units >/dev/null 2>&1 || true
	fi
fi
exit 0
