# Pure helpers over ./services.nix and the Cargo workspace. Needs only
# nixpkgs' `lib` (no packages), so nix/check.sh can evaluate it anywhere.
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
  pathDependencies =
    root: dir:
    let
      toml = readToml (root + "/${dir}/Cargo.toml");
      workspaceDeps = (readToml (root + "/Cargo.toml")).workspace.dependencies or { };
      tables = t: [
        (t.dependencies or { })
        (t.dev-dependencies or { })
        (t.build-dependencies or { })
      ];
      allTables = tables toml ++ concatMap tables (lib.attrValues (toml.target or { }));
      inheritsPath = name: spec: isAttrs spec && (spec.workspace or false) && workspaceDeps ? ${name}.path;
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

  # An entry of ./services.nix with every field filled in.
  normalize =
    name: entry:
    {
      inherit name;
      database = "${name}_db";
      kind = "grpc";
      peers = [ ];
      tokenIssuer = false;
      env = { };
      description = "the platform's ${name} service";
      crateDir = "services/${name}";
      healthPath = "/healthz";
      readyPath = "/readyz";
    }
    // entry;

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
          throw "nix/services.nix: ${entry.name} names unknown peer ${peer}"
      ) entry.peers
    );

  # The DATABASE_URL of a service on the local PostgreSQL: over the Unix
  # socket as the role named after the service (peer authentication, no
  # password), as the NixOS module runs it.
  localDatabaseUrl =
    entry: "postgres://${entry.name}@localhost/${entry.database}?host=/run/postgresql";

  # The one declared service that issues tokens (`tokenIssuer = true`: auth).
  issuer =
    declared:
    let
      found = lib.filter (s: s.tokenIssuer) (lib.attrValues declared);
    in
    if lib.length found == 1 then
      lib.head found
    else
      throw "nix/services.nix: exactly one service must set tokenIssuer = true, not ${toString (lib.length found)}";

  # Whether an entry is a client of the issuer: it verifies the issuer's
  # tokens and has a client identity there (client id = its name).
  isTokenClient = entry: !entry.tokenIssuer;

  # The names of the token clients among `services`, sorted.
  tokenClients = services: attrNames (filterAttrs (_: isTokenClient) services);

  # What a token client reads to reach the issuer at base URL `issuerUrl`.
  tokenEnv = issuerUrl: {
    AUTH_JWKS_URL = "${issuerUrl}/auth/.well-known/jwks.json";
    AUTH_TOKEN_URL = "${issuerUrl}/auth/token";
  };

  # Everything the rest of the Nix layer needs to know about the platform.
  #   declared  every entry of services.nix, normalized
  #   services  the entries whose crate exists under `root`
  #   devstack  the devstack crate's directory, or null until it exists
  platform =
    {
      root,
      description ? import ./services.nix,
    }:
    let
      declared = mapAttrs normalize description;
    in
    {
      inherit declared;
      services = filterAttrs (_: s: pathExists (root + "/${s.crateDir}/Cargo.toml")) declared;
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
      replicas = 1;
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
