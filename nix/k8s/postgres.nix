# PostgreSQL in the cluster (dev): a StatefulSet with a volume per replica,
# a headless Service, and an idempotent init Job that creates one role and
# one database per service (the Kubernetes form of the original platform's
# init-db.sh). Passwords come from Secrets: `postgres-superuser` (key
# `password`) and `<service>-db` (key `password`, the one in its `url`).
{
  lib,
  config,
  platformSource,
  ...
}:
let
  common = import ./common.nix { inherit lib; };
  cfg = config.platform;
  # The official image's postgres user.
  uid = 999;
  labels = common.labelsFor "postgres";
  selector = common.selectorFor "postgres";

  services = lib.filterAttrs (name: _: cfg.services.${name}.enable) platformSource.services;
  passwordVar = name: "${lib.toUpper name}_DB_PASSWORD";

  # psql: roles and databases created when missing, passwords and ownership
  # (re)applied every run, so the Job can run again at every sync. A missing
  # password variable leaves :'password' unset, a syntax error that stops it.
  initSql = lib.concatMapStrings (s: ''
    -- ${s.name}
    \unset password
    \getenv password ${passwordVar s.name}
    SELECT format('CREATE ROLE %I LOGIN', '${s.name}')
      WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${s.name}') \gexec
    ALTER ROLE "${s.name}" WITH LOGIN PASSWORD :'password';
    SELECT format('CREATE DATABASE %I OWNER %I', '${s.database}', '${s.name}')
      WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${s.database}') \gexec
    ALTER DATABASE "${s.database}" OWNER TO "${s.name}";
    REVOKE ALL ON DATABASE "${s.database}" FROM PUBLIC;
  '') (lib.attrValues services);

  # Writable paths under a read-only root filesystem.
  scratch = {
    "/var/run/postgresql".name = "run";
    "/tmp".name = "tmp";
  };
  scratchVolumes = {
    run.emptyDir.sizeLimit = "16Mi";
    tmp.emptyDir.sizeLimit = "64Mi";
  };
  superuserPassword.valueFrom.secretKeyRef = {
    name = "postgres-superuser";
    key = "password";
  };
  pgIsReady = {
    exec.command = [
      "pg_isready"
      "--host=127.0.0.1"
      "--username=postgres"
    ];
    timeoutSeconds = 3;
  };
  resources = {
    requests = {
      cpu = "50m";
      memory = "128Mi";
    };
    limits = {
      cpu = "1";
      memory = "512Mi";
    };
  };
in
{
  config = lib.mkIf cfg.postgres.inCluster {
    applications.postgres = {
      inherit (cfg) namespace;
      resources = {
        serviceAccounts.postgres = {
          metadata.labels = labels;
          automountServiceAccountToken = false;
        };

        # Headless: the StatefulSet's pod is postgres-0.postgres; the
        # services reach it as postgres:5432.
        services.postgres = {
          metadata.labels = labels;
          spec = {
            clusterIP = "None";
            inherit selector;
            ports.postgres = {
              port = 5432;
              targetPort = "postgres";
              protocol = "TCP";
            };
          };
        };

        statefulSets.postgres = {
          metadata.labels = labels;
          spec = {
            serviceName = "postgres";
            replicas = 1;
            selector.matchLabels = selector;
            template = {
              metadata.labels = labels;
              spec = {
                serviceAccountName = "postgres";
                automountServiceAccountToken = false;
                enableServiceLinks = false;
                securityContext = common.podSecurity uid;
                containers.postgres = {
                  image = cfg.postgres.image;
                  imagePullPolicy = "IfNotPresent";
                  ports.postgres.containerPort = 5432;
                  env = {
                    POSTGRES_PASSWORD = superuserPassword;
                    # A subdirectory: the volume's root holds lost+found.
                    PGDATA.value = "/var/lib/postgresql/data/pgdata";
                  };
                  inherit resources;
                  securityContext = common.restrictedContainer // {
                    runAsUser = uid;
                    runAsGroup = uid;
                  };
                  startupProbe = pgIsReady // {
                    periodSeconds = 2;
                    failureThreshold = 60;
                  };
                  livenessProbe = pgIsReady // {
                    periodSeconds = 10;
                    failureThreshold = 6;
                  };
                  readinessProbe = pgIsReady // {
                    periodSeconds = 5;
                    failureThreshold = 2;
                  };
                  volumeMounts = scratch // {
                    "/var/lib/postgresql/data".name = "data";
                  };
                };
                volumes = scratchVolumes;
              };
            };
            volumeClaimTemplates = [
              {
                metadata.name = "data";
                spec = {
                  accessModes = [ "ReadWriteOnce" ];
                  resources.requests.storage = cfg.postgres.storage;
                };
              }
            ];
          };
        };

        configMaps.postgres-init = {
          metadata.labels = labels;
          data."init.sql" = ''
            \set ON_ERROR_STOP on
            ${initSql}'';
        };

        jobs.postgres-init = {
          metadata = {
            labels = labels // {
              "app.kubernetes.io/name" = "postgres-init";
            };
            annotations = {
              # Argo CD runs it anew at every sync (it is idempotent).
              "argocd.argoproj.io/hook" = "Sync";
              "argocd.argoproj.io/hook-delete-policy" = "BeforeHookCreation";
            };
          };
          spec = {
            backoffLimit = 10;
            ttlSecondsAfterFinished = 3600;
            template = {
              metadata.labels = labels // {
                "app.kubernetes.io/name" = "postgres-init";
              };
              spec = {
                restartPolicy = "OnFailure";
                serviceAccountName = "postgres";
                automountServiceAccountToken = false;
                enableServiceLinks = false;
                securityContext = common.podSecurity uid;
                initContainers.wait-for-postgres = {
                  image = cfg.postgres.image;
                  imagePullPolicy = "IfNotPresent";
                  command = [
                    "sh"
                    "-c"
                    "until pg_isready --host=postgres --username=postgres; do sleep 2; done"
                  ];
                  resources = {
                    requests = {
                      cpu = "10m";
                      memory = "16Mi";
                    };
                    limits = {
                      cpu = "100m";
                      memory = "64Mi";
                    };
                  };
                  securityContext = common.restrictedContainer // {
                    runAsUser = uid;
                    runAsGroup = uid;
                  };
                };
                containers.init = {
                  image = cfg.postgres.image;
                  imagePullPolicy = "IfNotPresent";
                  command = [
                    "psql"
                    "--no-psqlrc"
                    "--file=/init/init.sql"
                  ];
                  env = {
                    PGHOST.value = "postgres";
                    PGUSER.value = "postgres";
                    PGDATABASE.value = "postgres";
                    PGPASSWORD = superuserPassword;
                  }
                  // lib.mapAttrs' (
                    name: s:
                    lib.nameValuePair (passwordVar name) {
                      valueFrom.secretKeyRef = {
                        inherit (s.databaseUrlSecret) name;
                        key = "password";
                      };
                    }
                  ) services;
                  resources = {
                    requests = {
                      cpu = "10m";
                      memory = "32Mi";
                    };
                    limits = {
                      cpu = "200m";
                      memory = "128Mi";
                    };
                  };
                  securityContext = common.restrictedContainer // {
                    runAsUser = uid;
                    runAsGroup = uid;
                  };
                  volumeMounts = {
                    "/init".name = "init";
                    "/tmp".name = "tmp";
                  };
                };
                volumes = {
                  init.configMap.name = "postgres-init";
                  tmp.emptyDir.sizeLimit = "16Mi";
                };
              };
            };
          };
        };

        # The services and the init Job only.
        networkPolicies.postgres = {
          metadata.labels = labels;
          spec = {
            podSelector.matchLabels = selector;
            policyTypes = [ "Ingress" ];
            ingress = [
              {
                from = map (name: { podSelector.matchLabels = common.selectorFor name; }) (
                  lib.attrNames services ++ [ "postgres-init" ]
                );
                ports = [ (common.tcp 5432) ];
              }
            ];
          };
        };
      };
    };
  };
}
