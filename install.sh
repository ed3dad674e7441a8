#!/usr/bin/env bash
# basecommerce installer — not written yet (see the appliance issue). It refuses to run rather
# than half-install a droplet. To try basecommerce locally today: ./infra/run-local.sh
echo "install.sh: not implemented yet; use ./infra/run-local.sh for a local run" >&2
exit 1
