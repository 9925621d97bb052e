#!/usr/bin/env bash
# Builds the 2021 quickstart sample of issue 13 (input data, never committed) into OUT_DIR.
#
#   bench/quickstart-sample/get-2021-sample.sh /tmp/qs2021            # clones the fork (about 500 MB)
#   bench/quickstart-sample/get-2021-sample.sh /tmp/qs2021 /path/to/existing/git/dir
#   QS_SAMPLE_DIR=/tmp/qs2021 npm run bench -- quickstart-sample
#
# Rule: every top-level template folder of anthony-c-martin/azure-quickstart-templates at commit
# 46ff92f7dbe92d4b8fd2b8b325de03056542c3da (a fork of Azure/azure-quickstart-templates as of 2021-03-01,
# MIT, before the upstream repository moved templates under quickstarts/<provider>/) whose name matches
# storage|key-?vault|web-?app (case-insensitive), with every .json file in it (templates, parameters files,
# nested templates). 108 folders, each with an azuredeploy.json.
set -euo pipefail
OUT_DIR=${1:?usage: get-2021-sample.sh OUT_DIR [GIT_DIR]}
COMMIT=46ff92f7dbe92d4b8fd2b8b325de03056542c3da
GIT_DIR_IN=${2:-}
if [ -z "$GIT_DIR_IN" ]; then
  GIT_DIR_IN=$(mktemp -d)/repo.git
  git clone --bare --filter=blob:none https://github.com/anthony-c-martin/azure-quickstart-templates "$GIT_DIR_IN"
fi
mkdir -p "$OUT_DIR"
git --git-dir="$GIT_DIR_IN" ls-tree -d --name-only "$COMMIT" | grep -i -E 'storage|key-?vault|web-?app' | while read -r dir; do
  git --git-dir="$GIT_DIR_IN" ls-tree -r "$COMMIT" -- "$dir" | while read -r _mode _type sha path; do
    case "$path" in
      *.json)
        mkdir -p "$OUT_DIR/$(dirname "$path")"
        git --git-dir="$GIT_DIR_IN" cat-file blob "$sha" > "$OUT_DIR/$path"
        ;;
    esac
  done
done
echo "$(ls "$OUT_DIR" | wc -l) templates in $OUT_DIR"
