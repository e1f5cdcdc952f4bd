package capture

import (
	"os"
	"testing"

	"github.com/smolfs/smolfs/internal/testenv"
)

// TestMain fails the package if a process the tests started, or a
// namespace they made, outlives them.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m.Run)) }
