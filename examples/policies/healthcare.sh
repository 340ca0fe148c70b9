#!/bin/sh
# examples/policies/healthcare.sh - a content-policy set for a healthcare
# organisation (gwctl(8), "Content policies").  Run it once, as the user
# that owns gw.db:
#
#     sh examples/policies/healthcare.sh
#     GWCTL="gwctl -c /etc/gw/gwd.conf" sh examples/policies/healthcare.sh
#
# Policies are evaluated in this order; the first that blocks names the
# refusal, the first that quarantines the hold.  gwd picks them up within
# a second.  Change the addresses below to your own; try a message with
# `gwctl policy test FILE.eml` before and after.
#
#   exe           block executables (by name or content) outright
#   macro         block macro-enabled Office files
#   phi-bulk      block a message carrying 5 or more health identifiers
#                 (ICD-10 codes near medical words, record numbers): a
#                 spreadsheet of patients is not an e-mail
#   phi           hold any other health data for the privacy officer,
#                 who is told (and releases or deletes it)
#   ssn           mask US social security numbers (XXX-XX-6789)
#   locked        hold encrypted zips: they cannot be read
#   sensitive     tag mail that names sensitive conditions
set -e
GWCTL=${GWCTL:-gwctl}
PRIVACY=${PRIVACY:-privacy-officer@hospital.example}

$GWCTL policy add exe --detector attachment:exec --action block
$GWCTL policy add macro --detector attachment:macro --action block
$GWCTL policy add phi-bulk --detector phi --min 5 --action block \
    --notify "$PRIVACY"
$GWCTL policy add phi --detector phi --action quarantine --notify "$PRIVACY"
$GWCTL policy add ssn --detector ssn --action redact
$GWCTL policy add locked --detector attachment:encrypted --action quarantine \
    --notify "$PRIVACY"
$GWCTL policy add sensitive --action tag \
    --detector 'keywords:hiv,psychiatric,substance abuse,oncology'
