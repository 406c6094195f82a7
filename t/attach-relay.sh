#!/bin/sh
# t/attach.sh again, with the client relaying the bytes (attach -R).
ATTACH="attach -R"
. "${srcdir:-.}/t/attach.sh"
