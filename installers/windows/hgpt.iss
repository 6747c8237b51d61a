; Inno Setup script for hgpt on Windows (x64). Packs the PyInstaller folder dist\hgpt
; (hgpt.exe = the CLI, hgpt-desktop.exe = the window) into dist\hgpt-setup-<version>.exe.
; Build it with installers\windows\build_windows.ps1, or by hand after PyInstaller:
;   iscc /DAppVersion=0.1.0 installers\windows\hgpt.iss
; NOT TESTED on this project's Linux machines: no Windows host was available.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define Root "..\.."

[Setup]
AppId={{6F0B8E52-4C1D-4B7A-9E51-2B7A1E0C4D11}
AppName=hgpt
AppVersion={#AppVersion}
AppPublisher=hgpt maintainers
AppComments=HuggingGPT on your laptop, offline.
DefaultDirName={autopf}\hgpt
DefaultGroupName=hgpt
DisableProgramGroupPage=yes
; Per-user install by default (no admin prompt); the dialog lets the user choose all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\dist
OutputBaseFilename=hgpt-setup-{#AppVersion}
SetupIconFile={#Root}\installers\icons\build\hgpt.ico
UninstallDisplayIcon={app}\hgpt-desktop.exe
; The folder is 1.5-2 GB (torch, Qt, the embedded models): LZMA2 without solid
; compression keeps memory and time reasonable; DiskSpanning lets the output pass 2 GB.
Compression=lzma2/fast
SolidCompression=no
DiskSpanning=yes
DiskSliceSize=max
ChangesEnvironment=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"
Name: "addtopath"; Description: "Add the hgpt command to PATH"; GroupDescription: "Command line:"

[Files]
Source: "{#Root}\dist\hgpt\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\hgpt"; Filename: "{app}\hgpt-desktop.exe"
Name: "{group}\Uninstall hgpt"; Filename: "{uninstallexe}"
Name: "{autodesktop}\hgpt"; Filename: "{app}\hgpt-desktop.exe"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; \
  ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\hgpt-desktop.exe"; Description: "Start hgpt"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Current) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Current) + ';') = 0;
end;
