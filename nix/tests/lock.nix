# flake.lock against flake.nix, with builtins only (runs on any Nix):
#
#   nix-instantiate --eval --strict nix/tests/lock.nix
#
# Every node but the root is locked to a GitHub revision with rev, narHash
# and lastModified; the root's inputs are exactly flake.nix's inputs, each
# locked from the URL flake.nix gives (owner, repo, ref) and `flake = false`
# where flake.nix says so; `follows` are recorded as such; every reference
# resolves and no node is unreachable.
let
  inherit (builtins)
    all
    attrNames
    filter
    fromJSON
    head
    isList
    isString
    length
    match
    readFile
    split
    stringLength
    ;

  lock = fromJSON (readFile ../../flake.lock);
  flake = import ../../flake.nix;
  inherit (lock) nodes;
  rootNode = nodes.${lock.root};

  check = name: cond: if cond then name else throw "nix/tests/lock.nix: FAILED: ${name}";
  allNames = f: names: all f names;

  nonRoot = filter (n: n != lock.root) (attrNames nodes);

  # "github:owner/repo" or "github:owner/repo/ref" -> { owner, repo, ref? }
  parseGithub =
    url:
    let
      m = match "github:([^/]+)/([^/?]+)(/([^?]+))?" url;
    in
    if m == null then
      throw "nix/tests/lock.nix: not a github: URL: ${url}"
    else
      {
        owner = builtins.elemAt m 0;
        repo = builtins.elemAt m 1;
      }
      // (if builtins.elemAt m 3 == null then { } else { ref = builtins.elemAt m 3; });

  inputUrl = spec: if isString spec then spec else spec.url;

  # A node's input reference: a node name, or a `follows` path from the root.
  resolves =
    ref:
    if isString ref then
      nodes ? ${ref}
    else
      isList ref
      && length ref > 0
      && rootNode.inputs ? ${head ref}
      && (length ref == 1 || nodes ? ${rootNode.inputs.${head ref}});

  reachable = builtins.genericClosure {
    startSet = [ { key = lock.root; } ];
    operator =
      item:
      map (key: { inherit key; }) (
        filter isString (builtins.attrValues (nodes.${item.key}.inputs or { }))
      );
  };

  lockedOk =
    name:
    let
      l = nodes.${name}.locked or { };
    in
    l ? rev
    && l ? narHash
    && l ? lastModified
    && l.type or null == "github"
    && match "[0-9a-f]{40}" l.rev != null
    && match "sha256-[A-Za-z0-9+/]{43}=" l.narHash != null
    && builtins.isInt l.lastModified
    && l.lastModified > 1000000000
    && nodes.${name} ? original;

  inputNames = attrNames flake.inputs;

  originalMatches =
    input:
    let
      want = parseGithub (inputUrl flake.inputs.${input});
      node = nodes.${rootNode.inputs.${input}};
    in
    node.original == want // { type = "github"; }
    && node.locked.owner == want.owner
    && node.locked.repo == want.repo;

  flakeFlagMatches =
    input:
    let
      spec = flake.inputs.${input};
      isFlake = if isString spec then true else spec.flake or true;
      node = nodes.${rootNode.inputs.${input}};
    in
    (node.flake or true) == isFlake;

  followsMatch =
    input:
    let
      spec = flake.inputs.${input};
      follows = if isString spec then { } else spec.inputs or { };
      node = nodes.${rootNode.inputs.${input}};
    in
    allNames (
      sub:
      (node.inputs or { }) ? ${sub}
      && node.inputs.${sub} == filter isString (split "/" follows.${sub}.follows)
    ) (attrNames follows);
in
[
  (check "lock version 7" (lock.version == 7))
  (check "root inputs are flake.nix's inputs" (attrNames rootNode.inputs == inputNames))
  (check "every node has rev, narHash and lastModified (github)" (allNames lockedOk nonRoot))
  (check "each input is locked from the URL in flake.nix" (allNames originalMatches inputNames))
  (check "flake = false matches" (allNames flakeFlagMatches inputNames))
  (check "follows are recorded" (allNames followsMatch inputNames))
  (check "every input reference resolves" (
    allNames (n: all resolves (builtins.attrValues (nodes.${n}.inputs or { }))) (attrNames nodes)
  ))
  (check "no unreachable nodes" (length reachable == length (attrNames nodes)))
  (check "revs are full hashes" (allNames (n: stringLength nodes.${n}.locked.rev == 40) nonRoot))
]
