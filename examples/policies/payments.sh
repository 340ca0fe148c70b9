#!/bin/sh
# examples/policies/payments.sh - a content-policy set for a payments
# organisation (PCI DSS: card numbers never leave in clear).  Run it once,
# as the user that owns gw.db:
#
#     sh examples/policies/payments.sh
#     GWCTL="gwctl -c /etc/gw/gwd.conf" sh examples/policies/payments.sh
#
# Policies are evaluated in this order; the first that blocks names the
# refusal.  gwd picks them up within a second.  Change the addresses to
# your own; try a message with `gwctl policy test FILE.eml`.
#
#   exe           block executables outright
#   macro         block macro-enabled Office files
#   pan-bulk      block 10 or more card numbers in one message (a dump),
#                 telling the PCI team
#   pan           mask any other card number (XXXX-XXXX-XXXX-1111) and
#                 tell the PCI team
#   cvv           mask a security code written after "CVV" or "CVC"
#   iban          tag mail carrying bank account numbers
#   locked        hold encrypted zips for review
set -e
GWCTL=${GWCTL:-gwctl}
PCI=${PCI:-pci-team@payments.example}

$GWCTL policy add exe --detector attachment:exec --action block
$GWCTL policy add macro --detector attachment:macro --action block
$GWCTL policy add pan-bulk --detector card --min 10 --action block \
    --notify "$PCI"
$GWCTL policy add pan --detector card --action redact --notify "$PCI"
$GWCTL policy add cvv --action redact \
    --detector 'regex:(?i)\b(cvv2?|cvc2?)\s*[:#]?\s*\d{3,4}\b'
$GWCTL policy add iban --detector iban --action tag
$GWCTL policy add locked --detector attachment:encrypted --action quarantine \
    --notify "$PCI"
