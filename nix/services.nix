# The one description of the platform's services. Everything else — crane
# packages, OCI images, NixOS modules, Kubernetes defaults, the devshell — is
# derived from this file by ./lib.nix, ./packages.nix and ./module.nix.
#
# Adding a service is adding one entry here (and its crate under services/).
# An entry whose crate does not exist yet (no services/<name>/Cargo.toml) is
# declared but not enabled, so the flake evaluates before and after it lands.
#
# Fields (defaults filled in by ./lib.nix `normalize`):
#   port      the service's listen port (also its PORT default in the binary)
#   database  its own PostgreSQL database; the role is the service's name
#   kind      "grpc" (gRPC, gRPC-Web and Connect on one port) or "rest"
#   peers     services it calls; each becomes <PEER>_URL in its environment
#             (and the NixOS units start after their local peers)
#   tokenIssuer  true for the one service that issues tokens (auth). Every
#             other service verifies its tokens itself (AUTH_JWKS_URL) and has
#             a client identity there named after the service
#             (SERVICE_CLIENT_SECRET_FILE, AUTH_TOKEN_URL), so it names the
#             issuer among its peers; the issuer knows the clients by the
#             SHA-256 of their secrets (AUTH_CLIENTS_FILE)
#   env       extra environment, the same everywhere the service runs
#   description  one line for units, labels and manifests
{
  greeter = {
    port = 8080;
    database = "greeter_db";
    kind = "grpc";
    peers = [
      "caller"
      "auth"
    ];
    description = "greets, asks caller for an external URL's status, stores greetings";
  };

  caller = {
    port = 8081;
    database = "caller_db";
    kind = "grpc";
    peers = [ "auth" ];
    description = "makes outbound HTTP calls for other services, refusing internal destinations";
  };

  gateway = {
    port = 8082;
    database = "gateway_db";
    kind = "grpc";
    peers = [
      "lang"
      "auth"
    ];
    description = "fronts lang and auth and aggregates their data";
  };

  auth = {
    port = 8090;
    database = "auth_db";
    kind = "rest";
    tokenIssuer = true;
    description = "sign-up, login, JWT, service tokens and forward-auth for the edge";
  };

  lang = {
    port = 3000;
    database = "lang_db";
    kind = "rest";
    peers = [ "auth" ];
    description = "localised greetings and translations";
  };
}
