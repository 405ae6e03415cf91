# The example configurations as /etc/dutybridge holds them: the files of config/ with what only
# works in a checkout changed (paths relative to the repository, secrets from the environment of a
# developer's shell). Each change names the text it replaces; text that is no longer there stops
# the configure step, so an edit of config/*.yaml cannot quietly ship a config that fails
# `dutybridge check` (the install test runs it on the result as well).

# Replaces every OLD in the variable named VAR with NEW; OLD must occur.
function(dutybridge_config_replace var old new)
  string(FIND "${${var}}" "${old}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "packaging: '${old}' is no longer in ${_dutybridge_config_source}; "
                        "update packaging/installed_config.cmake")
  endif()
  string(REPLACE "${old}" "${new}" replaced "${${var}}")
  set(${var} "${replaced}" PARENT_SCOPE)
endfunction()

# Turns every line from the one that starts with MARKER to the end into a comment: a '#' after
# the two-space indent, so deleting it enables the block again. MARKER must occur.
function(dutybridge_config_comment_out var marker)
  string(FIND "${${var}}" "${marker}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "packaging: '${marker}' is no longer in ${_dutybridge_config_source}; "
                        "update packaging/installed_config.cmake")
  endif()
  string(SUBSTRING "${${var}}" 0 ${at} head)
  string(SUBSTRING "${${var}}" ${at} -1 tail)
  # Not "^": CMake's REGEX REPLACE anchors it at every match, not once. The marker line is a
  # comment already.
  string(REGEX REPLACE "\n  ([^#\n])" "\n  #\\1" tail "${tail}")
  set(${var} "${head}${tail}" PARENT_SCOPE)
endfunction()

# /etc/dutybridge/dutybridge.yaml: the ERP pipeline needs a password, so it stays as an example,
# commented out, with the password from a systemd credential instead of the environment; the pid
# file in the unit's RuntimeDirectory.
function(dutybridge_installed_dutybridge_yaml source output)
  set(_dutybridge_config_source ${source})
  file(READ ${source} text)
  dutybridge_config_replace(text
    "# dutybridge example configuration. Validate with: dutybridge check -c config/dutybridge.yaml"
    "# dutybridge example configuration, as the Debian package installs it (man dutybridge.yaml).\n# Validate with: dutybridge check -c /etc/dutybridge/dutybridge.yaml; start with\n# systemctl start dutybridge (docs: /usr/share/doc/dutybridge/operations.md).")
  dutybridge_config_replace(text
    "wherever a password or key is needed. This example expects\n# DUTYBRIDGE_ERP_PASSWORD in the environment (or change it to \${cred:erp_db_password})."
    "wherever a password or key is needed: the ERP pipeline at\n# the end (commented out) reads its password from the credential erp-db-password.")
  dutybridge_config_replace(text "\${env:DUTYBRIDGE_ERP_PASSWORD}" "\${cred:erp-db-password}")
  dutybridge_config_replace(text "\nlog:\n"
    "\nservice:\n  # In the unit's RuntimeDirectory: `dutybridge reload -c` finds the daemon through it.\n  pid_file: /run/dutybridge/dutybridge.pid\n\nlog:\n")
  dutybridge_config_replace(text "      file: duties.yaml" "      file: /usr/share/dutybridge/config/duties.yaml")
  set(marker "  # ERP goods receipts from PostgreSQL")
  dutybridge_config_comment_out(text "${marker}")
  dutybridge_config_replace(text "${marker}"
    "  # To use it: delete the '#' after the indent of its lines and `enabled: false`, write the\n  # password to /etc/dutybridge/credentials/erp-db-password (mode 0600, in a 0700 directory),\n  # and hand it in with `systemctl edit dutybridge`:\n  #   [Service]\n  #   LoadCredential=erp-db-password:/etc/dutybridge/credentials/erp-db-password\n  #   IPAddressAllow=<the database's address>\n${marker}")
  file(WRITE ${output} "${text}")
endfunction()

# /etc/dutybridge/hr-store.yaml, run by dutybridge@hr-store.service: the mappings from
# /usr/share/dutybridge, the database password from a systemd credential, the pid file in the
# instance's RuntimeDirectory.
function(dutybridge_installed_hr_store_yaml source output)
  set(_dutybridge_config_source ${source})
  file(READ ${source} text)
  dutybridge_config_replace(text
    "(docs/hr-store.md). Validate with\n#   DUTYBRIDGE_HR_DB_PASSWORD=x dutybridge check -c config/hr-store.yaml"
    "(/usr/share/doc/dutybridge/hr-store.md). It runs as\n# dutybridge@hr-store.service, with the database password from the credential hr-db-password:\n#   install -d -m 0700 /etc/dutybridge/credentials/hr-store\n#   (write the password to /etc/dutybridge/credentials/hr-store/hr-db-password, mode 0600)\n#   systemctl edit dutybridge@hr-store, and add\n#     [Service]\n#     LoadCredential=hr-db-password:/etc/dutybridge/credentials/hr-store/hr-db-password\n# Validate with\n#   CREDENTIALS_DIRECTORY=/etc/dutybridge/credentials/hr-store dutybridge check -c /etc/dutybridge/hr-store.yaml")
  dutybridge_config_replace(text "\${env:DUTYBRIDGE_HR_DB_PASSWORD}" "\${cred:hr-db-password}")
  dutybridge_config_replace(text "mapping: ../mappings/" "mapping: /usr/share/dutybridge/mappings/")
  dutybridge_config_replace(text "\nlog:\n"
    "\nservice:\n  # In the RuntimeDirectory of dutybridge@hr-store: `dutybridge reload -c` finds the daemon through it.\n  pid_file: /run/dutybridge-hr-store/dutybridge.pid\n\nlog:\n")
  file(WRITE ${output} "${text}")
endfunction()
