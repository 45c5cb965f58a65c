// The errors a fabric run can end with; each message is one line naming what is wrong and where.
using Wafer.Core;

namespace Wafer.Fabric;

/// <summary>A wafer config that does not parse or validate.</summary>
public sealed class ConfigException(string message) : WaferInputException(message);

/// <summary>A fabric program that cannot run as written: SRAM overflow, color clash, bad route, out-of-bounds DSD.</summary>
public sealed class FabricProgramException(string message) : WaferInputException(message);

/// <summary>The program broke a rule of the architecture while running (e.g. one color arriving from two inputs in one cycle).</summary>
public sealed class ArchitectureViolationException(string message) : WaferInputException(message);

/// <summary>No progress while work is pending: the message lists the stuck PEs, colors and queues.</summary>
public sealed class DeadlockException(string message) : WaferInputException(message);

/// <summary>The run passed its max-cycles guard.</summary>
public sealed class MaxCyclesException(string message) : WaferInputException(message);
