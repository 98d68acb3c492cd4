#!/bin/sh
# The container's entry point: secrets from files, then `homeward "$@"`.
#
# For each variable below, VAR_FILE=/run/secrets/name (a Docker or Kubernetes secret) sets VAR to
# that file's content, so no secret has to sit in the compose file, the image or `docker inspect`.
# Setting both VAR and VAR_FILE is refused: which one wins would be a guess.
set -eu

for var in SECRET_KEY HOMEWARD_DATA_KEYS HOMEWARD_VAPID_PRIVATE_KEY HOMEWARD_AUDIT_KEY \
           HOMEWARD_BACKUP_KEY DATABASE_URL PGPASSWORD; do
  file_var="${var}_FILE"
  eval "file=\${$file_var:-}"
  [ -n "$file" ] || continue
  eval "already=\${$var:-}"
  if [ -n "$already" ]; then
    echo "Both $var and $file_var are set: set only one." >&2
    exit 1
  fi
  if [ ! -r "$file" ]; then
    echo "$file_var names $file, which cannot be read." >&2
    exit 1
  fi
  # Trailing newlines dropped, as an editor adds one.
  value="$(cat "$file")"
  export "$var=$value"
  unset "$file_var"
done

exec homeward "$@"
