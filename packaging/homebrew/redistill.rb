# Homebrew formula for Redistill, built from source with cargo.
#
# Before publishing it in a tap, point `homepage`, `url` and `head` at the
# real repository and fill in `sha256` for the release tarball:
#   curl -L <url> | shasum -a 256
class Redistill < Formula
  desc "Multi-threaded, Redis-compatible in-memory cache server"
  homepage "https://github.com/redistill/redistill"
  url "https://github.com/redistill/redistill/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"
  head "https://github.com/redistill/redistill.git", branch: "main"

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    # The shipped config, documented key by key. Homebrew keeps an edited
    # copy on upgrade and writes the new one next to it as .default.
    etc.install "redistill.toml"
  end

  def caveats
    <<~EOS
      The configuration is #{etc}/redistill.toml. By default Redistill listens
      on 127.0.0.1:6379; set server.health_check_port to serve /health and
      /metrics over HTTP.
    EOS
  end

  service do
    run [opt_bin/"redistill", "--config", etc/"redistill.toml"]
    keep_alive true
    working_dir var
    log_path var/"log/redistill.log"
    error_log_path var/"log/redistill.log"
  end

  test do
    require "socket"

    assert_match version.to_s, shell_output("#{bin}/redistill --version")

    port = free_port
    pid = spawn bin/"redistill", "--port", port.to_s, "--bind", "127.0.0.1", "--threads", "1"
    begin
      reply = nil
      50.times do
        begin
          TCPSocket.open("127.0.0.1", port) do |socket|
            socket.write "*1\r\n$4\r\nPING\r\n"
            reply = socket.gets
          end
          break
        rescue Errno::ECONNREFUSED
          sleep 0.2
        end
      end
      assert_equal "+PONG\r\n", reply
    ensure
      Process.kill("TERM", pid)
      Process.wait(pid)
    end
  end
end
