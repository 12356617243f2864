#!/bin/sh
# Fill each /etc/nginx/templates/*.template into /etc/nginx/conf.d/ with envsubst
# before nginx starts, as the official nginx image does. Only variables that are
# defined in the environment are replaced, so nginx's own $variables survive.
# The official image's NGINX_ENVSUBST_* variables change folders, suffix and filter.
set -eu

fill_templates() {
  template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
  suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
  output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
  filter=${NGINX_ENVSUBST_FILTER:-}

  [ -d "$template_dir" ] || return 0
  # shellcheck disable=SC2016,SC2046 # builds the literal list '${NAME} ...'.
  defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))

  find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative_path=${template#"$template_dir/"}
    output_path="$output_dir/${relative_path%"$suffix"}"
    mkdir -p "$(dirname "$output_path")"
    echo "$0: filling $template into $output_path"
    envsubst "$defined_envs" <"$template" >"$output_path"
  done
}

if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
  fill_templates
fi
exec "$@"
