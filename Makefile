# mprefd — common tasks. `make help` lists them.
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
CONFIG ?= debug

# System packages the build and the tests use (Debian names).
APT_PACKAGES := libsqlite3-dev sqlite3 shellcheck systemd python3-venv

# The loaders the README's one-line hooks use, from PyPI, in a virtual environment of their own
# (tested by LoaderHookTests under `make test`).
HOOK_TOOLS := $(CURDIR)/.build/hook-tools

.PHONY: help build release test deps demo install migrations clean bench test-reliability test-builds hook-tools format lint

help:
	@echo "make build       debug build of mprefd and mpref-sim"
	@echo "make test        install missing system packages and the hook tools (PyPI), make lint, then every"
	@echo "                 test (swift test); the end-to-end tests run the release mprefd that make install"
	@echo "                 ships (a first make test builds debug and release: ~15-20 min on 2 cores)"
	@echo "make format      format Sources/, Tests/ and Package.swift to .swift-format (4 spaces, 120 columns)"
	@echo "make lint        check the formatting (fails on any difference; run by make test)"
	@echo "make demo        simulator + daemon + hooks + reports, in under a minute; cleans up after itself"
	@echo "make install     self-contained release build (~10 min) installed under \$$(DESTDIR)\$$(PREFIX) (PREFIX=$(PREFIX))"
	@echo "make migrations  regenerate Sources/MprefStore/EmbeddedMigrations.swift from migrations/*.sql"
	@echo "make bench       release build, then every benchmark (~20 min), Markdown on stdout (see docs/BENCHMARKS.md)"
	@echo "make test-reliability  crash/kill -9 rounds (ROUNDS=N, default 20), fault matrix, 100k fuzz cases (FUZZ_CASES=N), contention, disk full, shutdown; <10 min"

# Installs what is missing; a no-op when everything is there.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build -c $(CONFIG)

# A self-contained binary: the Swift runtime and Foundation linked in (--static-swift-stdlib), so
# the service host needs only Debian's libsqlite3-0 and libxml2, not a Swift toolchain.
RELEASE_FLAGS := -c release --static-swift-stdlib --scratch-path .build-static

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product mprefd

# The end-to-end tests start the binary named by MPREFD_BINARY: the release build above, the one users
# run (a bare `swift test` uses the debug build instead: a quicker edit-and-test loop).
RELEASE_BINARY = "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/mprefd"

# What `swift test --skip-build` needs: the debug build with the tests, and that release binary.
test-builds:
	$(SWIFT) build --build-tests
	$(SWIFT) build $(RELEASE_FLAGS) --product mprefd

test: deps hook-tools lint test-builds
	MPREFD_BINARY=$(RELEASE_BINARY) MPREFD_HOOK_TOOLS=$(HOOK_TOOLS)/bin $(SWIFT) test --skip-build

# The toolchain's swift-format with the repository's .swift-format; the generated
# EmbeddedMigrations.swift opts out (swift-format-ignore-file).
FORMAT_PATHS := Sources Tests Package.swift
format:
	$(SWIFT) format -i -r --configuration .swift-format $(FORMAT_PATHS)

lint:
	$(SWIFT) format lint --strict -r --configuration .swift-format $(FORMAT_PATHS)

# sqlite-utils and DuckDB (Python package) from PyPI into .build/hook-tools; a no-op once there.
hook-tools:
	@if ! { [ -x "$(HOOK_TOOLS)/bin/sqlite-utils" ] && "$(HOOK_TOOLS)/bin/python" -c 'import duckdb' 2>/dev/null; }; then \
		echo "installing sqlite-utils and duckdb from PyPI into $(HOOK_TOOLS)"; \
		python3 -m venv "$(HOOK_TOOLS)" && "$(HOOK_TOOLS)/bin/pip" install -q --disable-pip-version-check sqlite-utils duckdb; \
	fi

demo: deps
	$(SWIFT) build
	scripts/demo

install: release
	install -d "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)/etc/mprefd" "$(DESTDIR)/etc/mprefd/hooks" "$(DESTDIR)/lib/systemd/system"
	install -s -m 0755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/mprefd" "$(DESTDIR)$(PREFIX)/bin/mprefd"
	install -d "$(DESTDIR)$(PREFIX)/share/doc/mprefd"
	install -m 0644 README.md docs/REPORTING.md "$(DESTDIR)$(PREFIX)/share/doc/mprefd/"
	install -m 0644 etc/mprefd.yaml.example "$(DESTDIR)/etc/mprefd/mprefd.yaml.example"
	install -m 0755 etc/hooks/*.sh "$(DESTDIR)/etc/mprefd/hooks/"
	sed 's|/usr/local/bin/mprefd|$(PREFIX)/bin/mprefd|g' etc/systemd/mprefd.service > "$(DESTDIR)/lib/systemd/system/mprefd.service"
	chmod 0644 "$(DESTDIR)/lib/systemd/system/mprefd.service"

migrations:
	scripts/embed-migrations

clean:
	rm -rf .build

# Benchmarks (docs/BENCHMARKS.md): release build in its own scratch path, so a debug build in
# .build is not disturbed. BENCH_ARGS="--runs 5" passes options; MPREF_BENCH_DIR picks the disk.
BENCH_SCRATCH ?= .build-release
BENCH_ARGS ?=
bench: deps
	$(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --product mprefd
	$(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --product mpref-sim
	$(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --product mpref-bench
	"$$($(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --show-bin-path)/mpref-bench" all $(BENCH_ARGS)

# The whole hardening suite (a fast subset of it runs in `make test`). SEED=N replays a run's random choices.
test-reliability: deps test-builds
	MPREFD_BINARY=$(RELEASE_BINARY) MPREFD_RELIABILITY=full $(SWIFT) test --skip-build --filter ReliabilityTests
