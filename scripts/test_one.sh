#!/usr/bin/env bash
# Developer loop: run some Odoo tests of the suite on a copy of a prepared database, in a minute or two
# instead of the whole `make test`.
#   scripts/test_one.sh ADDON[,ADDON...] TEST_TAGS [NAME]
#   scripts/test_one.sh distribution_approvals /distribution_approvals:TestPurchaseApproval
# The template `dc_dev_all` (Odoo's modules with demo data and the four addons, no test run) is built
# once when missing; REBUILD=1 builds it again. Each run works on its own copy `dc_dev_NAME` (default:
# the first addon), so several runs at once do not share a database. The log is in .test-results/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ODOO_PATH=${ODOO_PATH:-/opt/odoo}
PY=${VENV:-$ROOT/.venv}/bin/python
CONF=$ROOT/.local/odoo-local.conf
ADDONS_TO_UPDATE=$1
TAGS=$2
NAME=${3:-${ADDONS_TO_UPDATE%%,*}}
TPL=${TPL:-dc_dev_all}
DB=dc_dev_$NAME
if [ "$DB" = "$TPL" ]; then echo "[test_one] NAME must not make the template's name ($TPL)" >&2; exit 2; fi
DATA=$ROOT/.local/data/filestore
export PGHOST=localhost PGUSER=odoo PGPASSWORD=odoo PGOPTIONS="-c client_min_messages=warning"
mkdir -p "$ROOT/.test-results"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# ADDONS_DIR: test another copy of the addons (a work tree of your own) instead of this checkout.
ADDONS_DIR=${ADDONS_DIR:-$ROOT}
odoo() { "$PY" "$ODOO_PATH/odoo-bin" -c "$CONF" --addons-path="$ODOO_PATH/addons,$ADDONS_DIR" --stop-after-init \
  --max-cron-threads=0 --http-interface=127.0.0.1 --http-port="$(free_port)" "$@"; }

if [ -n "${REBUILD:-}" ] || ! psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$TPL'" | grep -q 1; then
  dropdb --if-exists --force "$TPL"; rm -rf "${DATA:?}/$TPL"
  echo "[test_one] building $TPL"
  odoo -d "$TPL" --logfile="$ROOT/.test-results/dev-template.log" \
    -i sale_management,sale_stock,purchase_stock,base_automation,distribution_observability,distribution_orchestration,distribution_approvals,distribution_ai_triage
fi
dropdb --if-exists --force "$DB"; rm -rf "${DATA:?}/$DB"
createdb -T "$TPL" "$DB"
[ -d "$DATA/$TPL" ] && cp -r "$DATA/$TPL" "$DATA/$DB"
LOG=$ROOT/.test-results/dev-$NAME.log
rm -f "$LOG"
set +e
odoo -d "$DB" --logfile="$LOG" -u "$ADDONS_TO_UPDATE" --test-enable --test-tags="$TAGS"
rc=$?
set -e
grep -E " (ERROR|CRITICAL) |FAIL:|ERROR:|tests when loading database|Ran [0-9]+ tests" "$LOG" | head -60
echo "[test_one] exit $rc; full log: $LOG"
dropdb --if-exists --force "$DB"; rm -rf "${DATA:?}/$DB"
