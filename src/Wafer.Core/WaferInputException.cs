// The one exception type for bad input in every assembly: a wafer or model config, a fabric program, a data file, a
// checkpoint, an argument. The CLI prints its message as one line naming what is wrong and where, and exits 2.
namespace Wafer.Core;

/// <summary>Base for every error caused by the user's input: the CLI prints the message and exits 2.</summary>
public class WaferInputException(string message) : Exception(message);
