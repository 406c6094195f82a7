#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# t/attach.sh again, with the client relaying the bytes (attach -R).
ATTACH="attach -R"
. "${srcdir:-.}/t/attach.sh"
