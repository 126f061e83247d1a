# Pure helpers over services.toml (the workspace root's one description of
# the services, read with builtins.fromTOML) and the Cargo workspace. Needs
# only nixpkgs' `lib` (no packages), so nix/check.sh can evaluate it anywhere.
{ lib }:
let
  inherit (builtins)
    fromTOML
    pathExists
    readDir
    readFile
    ;
  inherit (lib)
    attrNames
    concatMap
    concatStringsSep
    filterAttrs
    foldl'
    hasSuffix
    isAttrs
    isString
    mapAttrs
    nameValuePair
    removeSuffix
    splitString
    toUpper
    ;

  readToml = path: fromTOML (readFile path);
in
rec {
  # The fixed non-root user and group the images run as (distroless' "nonroot").
  uid = 65532;

  # "services/greeter/../caller" -> "services/caller"
  normalizePath =
    path:
    let
      step =
        acc: segment:
        if segment == "" || segment == "." then
          acc
        else if segment == ".." then
          if acc == [ ] then throw "nix/lib.nix: path ${path} leaves the workspace" else lib.init acc
        else
          acc ++ [ segment ];
    in
    concatStringsSep "/" (foldl' step [ ] (splitString "/" path));

  # The workspace members that exist under `root`, as paths relative to it,
  # expanding `dir/*` globs the way cargo does (directories with a Cargo.toml).
  workspaceMembers =
    root:
    let
      members = (readToml (root + "/Cargo.toml")).workspace.members or [ ];
      expand =
        member:
        if hasSuffix "/*" member then
          let
            dir = removeSuffix "/*" member;
            isCrate = name: type: type == "directory" && pathExists (root + "/${dir}/${name}/Cargo.toml");
          in
          if pathExists (root + "/${dir}") then
            map (name: "${dir}/${name}") (attrNames (filterAttrs isCrate (readDir (root + "/${dir}"))))
          else
            [ ]
        else if pathExists (root + "/${member}/Cargo.toml") then
          [ member ]
        else
          [ ];
    in
    concatMap expand members;

  # The crates (paths relative to `root`) that crate `dir` depends on by path:
  # its own `path = ...` dependencies of every kind and the workspace
  # dependencies it inherits that have a path. Cargo needs all of them, dev
  # and build dependencies included, to load the workspace.
  pathDependencies = dependencyPaths [
    "dependencies"
    "dev-dependencies"
    "build-dependencies"
  ];

  # Only those it runs with: [dependencies], not dev- or build-dependencies.
  runtimePathDependencies = dependencyPaths [ "dependencies" ];

  # The path dependencies of crate `dir` in the Cargo.toml tables `kinds`
  # (and their target-specific forms).
  dependencyPaths =
    kinds: root: dir:
    let
      toml = readToml (root + "/${dir}/Cargo.toml");
      workspaceDeps = (readToml (root + "/Cargo.toml")).workspace.dependencies or { };
      tables = t: map (kind: t.${kind} or { }) kinds;
      allTables = tables toml ++ concatMap tables (lib.attrValues (toml.target or { }));
      inheritsPath =
        name: spec: isAttrs spec && (spec.workspace or false) && workspaceDeps ? ${name}.path;
      depPath =
        name: spec:
        if isAttrs spec && spec ? path then
          normalizePath "${dir}/${spec.path}"
        else if inheritsPath name spec then
          normalizePath workspaceDeps.${name}.path
        else
          null;
    in
    lib.unique (lib.filter (p: p != null) (concatMap (t: lib.mapAttrsToList depPath t) allTables));

  # `dir` and every crate it reaches through path dependencies, sorted.
  crateClosure =
    root: dir:
    lib.sort lib.lessThan (
      map (item: item.key) (
        builtins.genericClosure {
          startSet = [ { key = normalizePath dir; } ];
          operator = item: map (key: { inherit key; }) (pathDependencies root item.key);
        }
      )
    );

  # The crate behind the platform's events (the outbox and its relay, the
  # consumers): a service that depends on it talks to the broker (NATS_URL).
  eventsCrate = "crates/events";

  # Whether an entry's crate exists and uses events: the fact is its
  # Cargo.toml's, written nowhere else.
  usesEvents =
    root: entry:
    pathExists (root + "/${entry.crateDir}/Cargo.toml")
    && lib.elem eventsCrate (runtimePathDependencies root entry.crateDir);

  crateName = root: dir: (readToml (root + "/${dir}/Cargo.toml")).package.name;

  # The crate's version, resolving `version.workspace = true` from the root
  # manifest as cargo does (crane's crateNameFromCargoToml does not follow
  # workspace inheritance for a member's manifest).
  crateVersion =
    root: dir:
    let
      version = (readToml (root + "/${dir}/Cargo.toml")).package.version or "0.0.0";
    in
    if isString version then
      version
    else if isAttrs version && (version.workspace or false) then
      (readToml (root + "/Cargo.toml")).workspace.package.version
    else
      throw "nix/lib.nix: cannot read the version of ${dir}/Cargo.toml";

  # services.toml's fields (as the catalog crate reads them), by the name
  # the rest of the Nix layer uses. Any other key is an error: a misspelt
  # field must not be dropped silently.
  fieldNames = {
    port = "port";
    kind = "kind";
    database = "database";
    peers = "peers";
    token_issuer = "tokenIssuer";
    replicas = "replicas";
    resources = "resources";
    env = "env";
    description = "description";
  };

  # How the edge reaches a service of each kind: h2c (gRPC, gRPC-Web and
  # Connect over cleartext HTTP/2 to one port) or HTTP/1.1. A `web` service
  # serves a built front end's files (no database, no tokens, never a peer).
  schemes = {
    grpc = "h2c";
    rest = "http";
    web = "http";
  };

  # Whether an entry (or a raw table of services.toml) is a web service.
  isWeb = entry: (entry.kind or null) == "web";

  # The description's problems, each naming its service, worded as the
  # catalog crate words them (crates/catalog/src/check.rs): unknown fields,
  # a bad name, port, kind, peers, replicas or resources; a web service with
  # a database, peers or tokens; ports or databases used twice; unknown
  # peers, or a web service as a peer; not exactly one token issuer; a
  # client that does not name the issuer; a cycle of peers.
  problems =
    description:
    let
      fields = concatStringsSep ", " (attrNames fieldNames);
      tableProblems =
        name: raw:
        let
          at = "[${name}]";
          port = raw.port or null;
          unknown = lib.filter (key: !(fieldNames ? ${key})) (attrNames raw);
          resourceKeys = attrNames raw.resources;
          rules = [
            {
              wrong = builtins.match "[a-z][a-z0-9]*" name == null || lib.stringLength name > 30;
              problem = "a name is a lowercase letter, then lowercase letters or digits, at most 30";
            }
            {
              wrong = !(lib.isInt port && port >= 1 && port <= 65535);
              problem = "port must be 1-65535";
            }
            {
              wrong = raw ? kind && !(isString raw.kind && schemes ? ${raw.kind});
              problem = "unknown kind ${builtins.toJSON raw.kind} (grpc, rest or web)";
            }
            {
              wrong = isWeb raw && raw ? database;
              problem = "a web service has no database";
            }
            {
              wrong = isWeb raw && ((raw.token_issuer or false) == true || (raw.peers or [ ]) != [ ]);
              problem = "a web service serves files: it has no peers and issues no tokens";
            }
            {
              wrong =
                raw ? database && !(isString raw.database && builtins.match "[a-z][a-z0-9_]*" raw.database != null);
              problem = "database ${builtins.toJSON raw.database} must be lowercase letters, digits and _";
            }
            {
              wrong = raw ? token_issuer && !lib.isBool raw.token_issuer;
              problem = "token_issuer is true or false";
            }
            {
              wrong = raw ? peers && !(lib.isList raw.peers && lib.all isString raw.peers);
              problem = "peers must be a list of service names";
            }
            {
              wrong = raw ? replicas && !(lib.isInt raw.replicas && raw.replicas >= 1);
              problem = "replicas must be a positive integer";
            }
            {
              wrong =
                raw ? resources
                && !(isAttrs raw.resources && lib.all (k: k == "requests" || k == "limits") resourceKeys);
              problem = "resources has requests and limits only";
            }
            {
              wrong = raw ? env && !(isAttrs raw.env && lib.all isString (lib.attrValues raw.env));
              problem = "env is a table of strings";
            }
          ];
        in
        if !isAttrs raw then
          [ "${at}: is not a table" ]
        else
          map (key: "${at}: unknown field `${key}` (the fields: ${fields})") unknown
          ++ map (rule: "${at}: ${rule.problem}") (lib.filter (rule: rule.wrong) rules);
      tablesProblems = lib.concatLists (lib.mapAttrsToList tableProblems description);

      declared = mapAttrs normalize description;
      entries = lib.attrValues declared;

      # "[x]: port 8090 is auth's already", for each entry after the first with
      # that value (web services have no database: null is nobody's).
      duplicates =
        field:
        let
          having = lib.filter (s: s.${field} != null) entries;
        in
        lib.concatLists (
          lib.imap0 (
            i: s:
            let
              earlier = lib.filter (o: o.${field} == s.${field}) (lib.take i having);
            in
            lib.optional (
              earlier != [ ]
            ) "[${s.name}]: ${field} ${toString s.${field}} is ${(lib.head earlier).name}'s already"
          ) having
        );

      peerProblems =
        s:
        lib.concatLists (
          lib.imap0 (
            i: peer:
            if peer == s.name then
              [ "[${s.name}]: a service is not its own peer" ]
            else if !(declared ? ${peer}) then
              [ "[${s.name}]: peer ${builtins.toJSON peer} is not a service here" ]
            else if isWeb declared.${peer} then
              [ "[${s.name}]: peer ${peer} is a web service, which nothing calls" ]
            else if lib.elem peer (lib.take i s.peers) then
              [ "[${s.name}]: peer ${peer} is listed twice" ]
            else
              [ ]
          ) s.peers
        );

      issuers = lib.filter (s: s.tokenIssuer) entries;
      issuerProblems =
        if lib.length issuers == 1 then
          let
            theIssuer = (lib.head issuers).name;
            why = "it verifies its tokens and has a client identity there";
          in
          map (s: "[${s.name}]: must list ${theIssuer} among its peers (${why})") (
            lib.filter (s: isTokenClient s && !(lib.elem theIssuer s.peers)) entries
          )
        else
          [ "exactly one service sets token_issuer = true, not ${toString (lib.length issuers)}" ];

      # Whether `name`'s peers lead back to a service on `path`.
      knownPeers = s: lib.filter (peer: peer != s.name && declared ? ${peer}) s.peers;
      cyclic =
        path: name: lib.elem name path || lib.any (cyclic (path ++ [ name ])) (knownPeers declared.${name});
      cycleProblems = lib.optional (lib.any (
        s: lib.any (cyclic [ s.name ]) (knownPeers s)
      ) entries) "peers form a cycle";
    in
    if tablesProblems != [ ] then
      tablesProblems
    else
      duplicates "port"
      ++ duplicates "database"
      ++ concatMap peerProblems entries
      ++ issuerProblems
      ++ cycleProblems;

  # An entry of services.toml (TOML's snake_case keys) with the Nix layer's
  # names and every field filled in.
  normalize =
    name: raw:
    {
      inherit name;
      # every kind but web has one (web: null)
      database = if isWeb raw then null else "${name}_db";
      kind = "grpc";
      peers = [ ];
      tokenIssuer = false;
      # services.toml's are production's; dev sets its own (nix/k8s/envs/dev.nix).
      replicas = 1;
      env = { };
      description = "the platform's ${name} service";
      crateDir = "services/${name}";
      healthPath = "/healthz";
      readyPath = "/readyz";
    }
    // lib.mapAttrs' (key: value: nameValuePair (fieldNames.${key} or key) value) raw
    // {
      resources = {
        requests = { };
        limits = { };
      }
      // (raw.resources or { });
    };

  # services.toml at `root`, as builtins.fromTOML reads it.
  readDescription = root: readToml (root + "/services.toml");

  # The edge's upstreams: the services edge.toml's `[[routers]]` route to,
  # each with the scheme its kind in services.toml implies. An `[upstreams]`
  # table in edge.toml (as it had before) is ignored.
  edgeUpstreams =
    declared: edgeSource:
    lib.listToAttrs (
      map (
        router:
        let
          name = router.upstream;
        in
        if declared ? ${name} then
          nameValuePair name { scheme = schemes.${declared.${name}.kind}; }
        else
          throw "deploy/edge/edge.toml: router ${router.name}'s upstream ${name} is not a service of services.toml"
      ) (edgeSource.routers or [ ])
    );

  # The edge as Nix deploys it (the Kubernetes IngressRoutes, the VM tests'
  # Traefik): edge.toml's routers (`deployedEdge`) and Traefik's dynamic
  # configuration rendered from them (`deployedDynamic`: crates/edge names
  # each router's service after its upstream) but those to a web service.
  # The web service is deployed by Nix in part 2 (issue 21), its routes with it.
  routesToUndeployed = platform: upstream: platform.webServices ? ${upstream};
  deployedEdge =
    platform: edgeSource:
    edgeSource
    // lib.optionalAttrs (edgeSource ? routers) {
      routers = lib.filter (router: !routesToUndeployed platform router.upstream) edgeSource.routers;
    };
  deployedDynamic =
    platform: dynamic:
    dynamic
    // lib.optionalAttrs (dynamic ? http) {
      http =
        dynamic.http
        // lib.optionalAttrs (dynamic.http ? routers) {
          routers = filterAttrs (_: router: !routesToUndeployed platform router.service) dynamic.http.routers;
        }
        // lib.optionalAttrs (dynamic.http ? services) {
          services = filterAttrs (name: _: !routesToUndeployed platform name) dynamic.http.services;
        };
    };

  # GREETER_URL for peer "greeter": the variable a service reads a peer's address from.
  peerEnvVar = peer: "${toUpper (lib.replaceStrings [ "-" ] [ "_" ] peer)}_URL";

  # { CALLER_URL = urlFor declared.caller; ... } for an entry's peers.
  peerEnv =
    declared: urlFor: entry:
    lib.listToAttrs (
      map (
        peer:
        if declared ? ${peer} then
          nameValuePair (peerEnvVar peer) (urlFor declared.${peer})
        else
          throw "services.toml: [${entry.name}]: peer ${builtins.toJSON peer} is not a service here"
      ) entry.peers
    );

  # The DATABASE_URL of a service on the local PostgreSQL: over the Unix
  # socket as the role named after the service (peer authentication, no
  # password), as the NixOS module runs it.
  localDatabaseUrl =
    entry: "postgres://${entry.name}@localhost/${entry.database}?host=/run/postgresql";

  # The one declared service that issues tokens (`token_issuer = true`).
  issuer =
    declared:
    let
      found = lib.filter (s: s.tokenIssuer) (lib.attrValues declared);
    in
    if lib.length found == 1 then
      lib.head found
    else
      throw "services.toml: exactly one service sets token_issuer = true, not ${toString (lib.length found)}";

  # Whether an entry is a client of the issuer: it verifies the issuer's
  # tokens and has a client identity there (client id = its name): every
  # service but the issuer and web services.
  isTokenClient = entry: !entry.tokenIssuer && !isWeb entry;

  # The names of the token clients among `services`, sorted.
  tokenClients = services: attrNames (filterAttrs (_: isTokenClient) services);

  # What a token client reads to reach the issuer at base URL `issuerUrl`.
  tokenEnv = issuerUrl: {
    AUTH_JWKS_URL = "${issuerUrl}/auth/.well-known/jwks.json";
    AUTH_TOKEN_URL = "${issuerUrl}/auth/token";
  };

  # Everything the rest of the Nix layer needs to know about the platform.
  #   declared     every table of services.toml, checked and normalized (using
  #                it throws, naming services.toml, when the description is
  #                wrong), each with `usesEvents` from its crate's dependencies
  #   webServices  the declared web services (kind "web")
  #   backend      the declared services Nix deploys: all but the web ones
  #   services     the backend entries whose crate exists under `root`: what
  #                gets a package, image, SBOM, NixOS module, VM test unit,
  #                Kubernetes app, NetworkPolicy peer and dashboard
  #   devstack     the devstack crate's directory, or null until it exists
  # `description` is services.toml's content; tests pass others.
  platform =
    {
      root,
      description ? readDescription root,
    }:
    let
      found = problems description;
      declared =
        if found == [ ] then
          mapAttrs (
            name: raw:
            let
              entry = normalize name raw;
            in
            entry // { usesEvents = usesEvents root entry; }
          ) description
        else
          throw "services.toml: ${concatStringsSep "; " found}";
    in
    rec {
      inherit declared;
      # The one place web services are left out of what Nix deploys: the web
      # service is deployed by Nix in part 2 (issue 21). Its routes are left
      # out of the edge with it (`deployedEdge`, `deployedDynamic` above).
      webServices = filterAttrs (_: isWeb) declared;
      backend = removeAttrs declared (attrNames webServices);
      services = filterAttrs (_: s: pathExists (root + "/${s.crateDir}/Cargo.toml")) backend;
      devstack = lib.findFirst (dir: pathExists (root + "/${dir}/Cargo.toml")) null [
        "services/devstack"
        "crates/devstack"
      ];
    };

  # Defaults for the Kubernetes manifests (nix/k8s): one attrset per
  # service, derived from the same entry as its package, image and module.
  k8sDefaults =
    {
      declared,
      entry,
      version,
    }:
    let
      # A peer by its Service's name in the same namespace.
      serviceUrl = peer: "http://${peer.name}:${toString peer.port}";
    in
    {
      inherit (entry)
        name
        port
        database
        kind
        peers
        description
        healthPath
        readyPath
        ;
      image = {
        repository = "platform/${entry.name}";
        tag = version;
        pullPolicy = "IfNotPresent";
      };
      # Production's count and requests/limits (services.toml); an
      # environment may set its own (nix/k8s/options.nix).
      inherit (entry) replicas resources;
      # Every service but the issuer (and a web service) verifies tokens
      # itself (AUTH_JWKS_URL), and so calls the issuer.
      verifiesTokens = isTokenClient entry;
      # Whether it publishes or consumes events: it reaches the broker.
      inherit (entry) tokenIssuer usesEvents;
      # Whether it calls a peer through a circuit breaker (an
      # upstream_breaker_state series): any peer but the issuer, whose keys
      # and token endpoint every client reaches through crates/authn, which
      # has none.
      callsThroughBreakers = lib.any (peer: !declared.${peer}.tokenIssuer) entry.peers;
      env = {
        HOST = "0.0.0.0";
        PORT = toString entry.port;
        LOG_FORMAT = "json";
        OTEL_SERVICE_NAME = entry.name;
      }
      // peerEnv declared serviceUrl entry
      // lib.optionalAttrs (isTokenClient entry) (tokenEnv (serviceUrl (issuer declared)))
      // entry.env;
      # DATABASE_URL carries a password: it comes from this Secret, not from env.
      # (In dev the Secret's `password` key is also the role's password.)
      databaseUrlSecret = {
        name = "${entry.name}-db";
        key = "url";
      };
      # A token client's secret (SERVICE_CLIENT_SECRET_FILE), and the issuer's
      # file of clients (AUTH_CLIENTS_FILE): Secrets, mounted as files.
      clientSecret =
        if isTokenClient entry then
          {
            name = "${entry.name}-client";
            key = "secret";
          }
        else
          null;
      clientsSecret =
        if entry.tokenIssuer then
          {
            name = "${entry.name}-clients";
            key = "clients";
          }
        else
          null;
      probes = {
        liveness = {
          path = entry.healthPath;
          inherit (entry) port;
        };
        readiness = {
          path = entry.readyPath;
          inherit (entry) port;
        };
      };
      securityContext = {
        runAsNonRoot = true;
        runAsUser = uid;
        runAsGroup = uid;
        allowPrivilegeEscalation = false;
        readOnlyRootFilesystem = true;
        capabilities.drop = [ "ALL" ];
        seccompProfile.type = "RuntimeDefault";
      };
    };
}
