#!/usr/bin/env bash
# Builds the tests' Kubernetes control plane from the Go module proxy: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (the README's
# "On the cluster" says what the tests do with them). Needs only Go and the proxy.
#
# The binaries go to $cache/<key>/bin, where $cache is $TUNE_E2E_CACHE, else
# $XDG_CACHE_HOME/tune-e2e, else ~/.cache/tune-e2e, and <key> hashes
# build/versions.env and the wrapper modules' go.mod/go.sum: change a version and
# the key changes. internal/testcluster computes the same key (bin.go). A
# complete bin dir is reused as it is. The last line printed is the bin dir;
# --print-bin-dir prints it without building.
#
# Cold: about 6 minutes on 2 cores. -p 2 keeps peak memory to a few GB (linking
# kube-apiserver dominates).
set -euo pipefail

# All in main: bash reads a script as it runs, and a checkout that changes
# during a 6-minute build must not change the rest of the run.
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# have_all DIR: whether DIR holds every binary.
have_all() {
	local b
	for b in "${bins[@]}"; do [[ -x $1/$b ]] || return 1; done
}

main() {
	here=$(cd "$(dirname "$0")" && pwd)
	# shellcheck source=build/versions.env
	source "$here/build/versions.env"
	# The module zips carry no commit; the zero commit says "built from the proxy".
	GIT_COMMIT=0000000000000000000000000000000000000000

	cache=${TUNE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tune-e2e}
	key=$(cat "$here/build/versions.env" "$here/build/kube/go.mod" "$here/build/kube/go.sum" \
		"$here/build/etcd/go.mod" "$here/build/etcd/go.sum" | sha256sum | cut -c1-16)
	out=$cache/$key
	if [[ ${1:-} == --print-bin-dir ]]; then
		echo "$out/bin"
		exit 0
	fi
	mkdir -p "$out"
	# One build per key at a time: a second caller waits, then finds bin complete.
	exec 9>"$out/lock"
	flock 9

	if ! have_all "$out/bin"; then
		tmp=$(mktemp -d "$out/bin.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		if ! grep -q "k8s.io/kubernetes $KUBE_VERSION" "$here/build/kube/go.mod"; then
			echo "build/versions.env says $KUBE_VERSION, build/kube/go.mod requires another k8s.io/kubernetes" >&2
			exit 1
		fi
		# Static binaries; the wrappers' go.sum is complete, whatever GOFLAGS says.
		export CGO_ENABLED=0 GOFLAGS=-mod=readonly
		start=$SECONDS

		minor=${KUBE_VERSION#v1.}
		minor=${minor%%.*}
		ldflags=""
		for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
			ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=$GIT_COMMIT"
			ldflags+=" -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		done

		echo "building etcd" >&2
		(cd "$here/build/etcd" && go build -p 2 -trimpath -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
		echo "building kube-apiserver, kube-controller-manager, kube-scheduler $KUBE_VERSION" >&2
		(cd "$here/build/kube" && go build -p 2 -trimpath -ldflags "$ldflags" -o "$tmp/" \
			k8s.io/kubernetes/cmd/kube-apiserver \
			k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler)
		echo "building kwok $KWOK_VERSION" >&2
		# go install pkg@version ignores any module around it; GOFLAGS=-mod is refused there.
		(cd "$tmp" && GOFLAGS= GOBIN="$tmp" go install -p 2 -trimpath \
			-ldflags "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
			"sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")

		have_all "$tmp" || { echo "a binary is missing from $tmp" >&2; exit 1; }
		rm -rf "$out/bin"
		chmod 755 "$tmp"
		mv "$tmp" "$out/bin"
		trap - EXIT
		echo "built in $((SECONDS - start))s" >&2
	fi
	echo "$out/bin"
}

main "$@"
exit
